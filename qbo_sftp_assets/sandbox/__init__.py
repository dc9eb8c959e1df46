"""Embedded stand-ins for the demo and the tests: a QBO API server and an SFTP server on loopback."""
