"""Running a studio's server: backups that restore (:mod:`.backup`, :mod:`.restore`)."""
