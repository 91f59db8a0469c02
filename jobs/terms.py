"""The bureau's fixed terms, named alike on both sides of the landing contract.

The generator writes them, the ingest checks them and the wings group by them;
each is stated here once.
"""

# The seven fee categories of a settlement list's cost breakdown and of a fee
# detail line (SPEC 3), in the order the lists print them.
FEE_CATEGORIES = ("drugs", "consumables", "exams", "treatment", "nursing", "bed", "other")

# The point-value methods of the year-end clearing (SPEC 5.3), the first the default.
PV_METHODS = ("ratio", "budget_plus_self_pay")

# How a catalogue's level coefficient K is taken (SPEC 5.1), the first the default:
# casemix, the level's cost over the cost its cases' types expect; raw, the national
# text's level mean cost over the city's (which pays a level twice for its case mix).
LEVEL_METHODS = ("casemix", "raw")

# The twelve fraud patterns of SPEC 6: what the generator plants and the rules and alerts name.
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

# The expert library's eleven review fields (SPEC 9.5); a case's field comes from its
# principal diagnosis's ICD-10 chapter (jobs/reference/icd10_chapter_fields.csv).
REVIEW_FIELDS = (
    "internal",
    "cardiovascular",
    "neurology",
    "respiratory",
    "digestive",
    "surgery",
    "orthopaedics",
    "obstetrics_gynaecology",
    "paediatrics",
    "oncology",
    "infectious",
)

# Where the clearing takes a hospital's assessment coefficient A (SPEC 9.3), the first the
# default; and the assessment scheme a computed assessment applies unless told otherwise.
ASSESSMENT_SOURCES = ("feed", "computed")
ASSESSMENT_SCHEME = "2025.1"

# The procurement scheme (SPEC 10, jobs/procurement/schemes/) applied unless told otherwise.
PROCUREMENT_SCHEME = "2025.1"

# An expert's decision on a special case (SPEC 9.5).
REVIEW_DECISIONS = ("approve", "reject")

# Off-site treatment (SPEC 12): the city's own pooling region (Xiamen), the platform's
# vocabularies, and the scheme the policy checks use by default.
HOME_REGION = "350200"
OFFSITE_DIRECTIONS = ("inbound", "outbound")
OFFSITE_FILINGS = ("resident", "referral", "temporary", "unfiled")
OFFSITE_VISITS = ("inpatient", "outpatient", "chronic_special")
OFFSITE_SCHEME = "2025.1"
