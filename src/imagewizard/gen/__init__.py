"""Generative models for small gray images: DCGAN, VAE and DDPM/DDIM diffusion.

``imagewizard generate --model diffusion|vae|gan`` samples from the shipped
models (trained on scikit-learn's 8x8 digits upscaled to 32x32);
``imagewizard train generator`` trains new ones. One file per architecture
(:mod:`.dcgan`, :mod:`.vae`, :mod:`.ddpm`), data in :mod:`.data`, training
in :mod:`.train`, saving/loading in :mod:`.zoo`.
"""
