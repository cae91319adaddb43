"""The physics of damage, kept apart from the restorers: blur kernels and degradations (noise, blur, JPEG, masks)."""
