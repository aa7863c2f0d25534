"""The card suite: certifies a card (simulated, or real in a PC/SC reader) against the profile."""
