"""Measuring images: estimates of noise, blur, JPEG blocking and tone; metrics against a reference; figures."""
