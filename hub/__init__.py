"""The sharing hub: STIX 2.1 in, sharing rules applied, TAXII 2.1 feeds out."""

__version__ = "0.1.0"
