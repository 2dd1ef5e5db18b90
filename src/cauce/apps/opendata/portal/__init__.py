"""A local SODA-compatible portal: synthetic datasets, an asset inventory, and injected faults."""

from cauce.apps.opendata.portal.server import Portal
from cauce.apps.opendata.portal.state import INVENTORY_ID, Fault, PortalState, RequestRecord

__all__ = ["INVENTORY_ID", "Fault", "Portal", "PortalState", "RequestRecord"]
