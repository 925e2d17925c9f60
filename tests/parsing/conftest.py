from parse_helpers import con, raw_dir  # noqa: F401  (fixtures shared by this folder's tests)
