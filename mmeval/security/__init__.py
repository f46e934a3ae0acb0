"""Security: key ring, encrypted record store, access policy, tamper-evident audit log."""
