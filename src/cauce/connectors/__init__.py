"""Clients of outside systems that more than one app uses.

`cauce.connectors.soda`: Socrata's SODA API (datos.gov.co and every other Socrata portal): a
client with paging, retries and resumable CSV downloads, and a local portal for offline tests.
"""
