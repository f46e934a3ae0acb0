"""Image metrics: paired (SSIM, PSNR) and set-level on Inception features (FID, KID, IS)."""
