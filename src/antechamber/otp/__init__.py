"""One-time codes sent by SMS as a second factor."""
