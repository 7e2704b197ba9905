"""Figures: one module per study, a shared style; every figure is drawn from tidy result tables."""
