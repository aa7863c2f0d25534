"""Where the load kiosk of `simulator.devices.transit` still finds the load host.

The issuer's keys and hosts live in `simulator.backend` (`issuer`, `load_host`, `hsm`); this
module only re-exports the two names `transit.py` imports, because that file is being
restructured into step generators elsewhere. Delete it once `transit.py` imports
`simulator.backend.load_host` (or, better, takes a `simulator.backend.ports.LoadHostPort`).
"""

from simulator.backend.load_host import LoadHost, LoadRefused

__all__ = ["LoadHost", "LoadRefused"]
