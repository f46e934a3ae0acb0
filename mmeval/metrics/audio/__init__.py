"""Audio metrics: perceptual similarity, PESQ, STOI, SI-SDR and Fréchet audio distance."""
