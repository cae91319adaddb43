"""Running methods on images: pipelines, the wizard's plans, tiling, and jobs over many files (local or Dask)."""
