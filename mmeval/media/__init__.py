"""Loading media (images, audio) from paths or arrays into arrays metrics can use."""

# The media files mmeval reads, writes, embeds and serves, by suffix.
MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".wav": "audio/wav"}
