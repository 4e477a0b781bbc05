"""Pure STIX 2.1 helpers: identifiers, timestamps, object versions. See README.md."""
