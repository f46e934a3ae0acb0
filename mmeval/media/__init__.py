"""Loading media (images, audio) from paths or arrays into arrays metrics can use."""
