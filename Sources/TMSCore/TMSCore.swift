import Atomics
