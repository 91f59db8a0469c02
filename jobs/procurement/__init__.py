"""Drug procurement and price supervision (SPEC 10): the volume-based procurement wing.

Agreed-volume completion (:mod:`completion`), surplus retention (:mod:`retention`),
direct settlement with distributors (:mod:`settlement`) and price lights
(:mod:`lights`), each a pure function of DataFrames; the limits are a versioned
scheme (:mod:`scheme`, ``schemes/procurement-<version>.yaml``).
"""
