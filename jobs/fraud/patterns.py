"""The twelve fraud patterns of SPEC 6: what the generator plants and the rules and alerts name."""

PATTERNS = (
    "SPLIT_ADMISSION",
    "GHOST_BED",
    "LOW_STANDARD_ADMISSION",
    "UPCODING",
    "FICTITIOUS_SERVICE",
    "IDENTITY_FRAUD",
    "DRUG_RESALE",
    "DUPLICATE_BILLING",
    "OVER_TESTING",
    "SHADOW_DOCTOR",
    "GANG",
    "DUPLICATE_ENROLMENT",
)
