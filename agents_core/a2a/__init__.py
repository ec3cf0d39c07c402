"""The A2A front door: JSON-RPC 1.0 and 0.3, wire shapes and agent cards, tasks over runs."""
