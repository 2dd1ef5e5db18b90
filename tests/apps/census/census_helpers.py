"""Facts about the real Adult files that several census tests check."""

# The five records with a letter injected into a numeric column: file, line, reason.
INJECTED = [
    ("Adult.data", 49, "capital-gain: 'A' is not an integer"),
    ("Adult.data", 22198, "age: 'B' is not an integer"),
    ("Adult.data", 22819, "fnlwgt: 'C' is not an integer"),
    ("Adult.data", 32541, "age: 'D' is not an integer"),
    ("Adult.test", 31, "hours-per-week: 'E' is not an integer"),
]
