"""Pose-driven partial warp of the reference image (VLOGGER's partial warp): no learned weights, CPU-fast.

skeleton.py: joints, bones and their per-frame transforms; rig.py: per-reference precomputation (person region,
mesh, bone weights, face kernel, clean plate); warp.py: the per-frame warp and the explained-pixels mask.
"""
