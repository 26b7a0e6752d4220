"""Code that runs inside smtune's training images.

Nothing here imports from `containers` or `tuning`: this package is what ships in images.
"""
