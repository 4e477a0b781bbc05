"""Standalone feed connectors built on taxii2-client. They reach the hub only over HTTP.

`runner` builds a connector from its `[connectors.<name>]` settings and runs it; a source
(`taxii.TaxiiSource`, `directory.DirectorySource`) reads and stages batches through an
`engine.Engine`, which delivers them to a target (`targets.HubTarget`, `targets.TaxiiTarget`)
and keeps the cursor, outbox and counters in the connector's own `state.StateStore`.
docs/connectors.md describes the kinds, their settings and what survives a crash.
"""
