"""The integration suite: a department's system certified against the platform the suite plays."""
