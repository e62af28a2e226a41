"""The benchmark: flagstream side by side with the practical limit and its peers.

preload (``preload``) → one OS process per contender (``contenders``) → drain and latency runs
measured from outside (``measure``) → table, JSON, Markdown and a plot (``report``).
``runner`` ties them together; ``flagstream bench`` is its command line.
"""
