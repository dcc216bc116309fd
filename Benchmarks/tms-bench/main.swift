import TMSCore
print("tms-bench")
