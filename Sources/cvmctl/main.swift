import Orchestrator
print("cvmctl")
