"""Pages that exist only in development mode (`ANTECHAMBER_DEV=true`)."""
