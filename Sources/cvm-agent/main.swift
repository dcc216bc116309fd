print("cvm-agent")
