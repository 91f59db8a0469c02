"""Off-site medical treatment (SPEC 12): the city's flows through the national platform.

Reconciliation of the platform's monthly clearing with what the lake saw
(:mod:`reconcile`), the filing policy's fund shares (:mod:`policy`) and the
destination institutions' costs against their peers (:mod:`destinations`), each a
pure function of DataFrames; the shares and limits are a versioned scheme
(:mod:`scheme`, ``schemes/offsite-<version>.yaml``). The person treated elsewhere on
a day of a local stay is a rule of the fraud rule base (``offsite_while_in_local_stay``).
"""
