// Wire protocol shared by the guest agent and the orchestrator.
