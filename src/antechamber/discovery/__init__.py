"""Discovery: from a proven email to the organizations it may enter, and into one of them."""
