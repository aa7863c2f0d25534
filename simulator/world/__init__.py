"""The SimPy world (居民服务一卡通 in simulated time): sites of gates and kiosks, the people who
use them with their carriers, back-ends with latency and faults, scenarios, metrics, the analytic
checks the model is validated against, and replications in process or on Dask.

SimPy is imported here and above, never below (an import-linter contract): devices and back-ends
are plain Python the world times.
"""

from simulator.world.replications import run, summarise
from simulator.world.scenario import Scenario, load

__all__ = ["Scenario", "load", "run", "summarise"]
