"""Functions the read-only guard admits, per sqlglot dialect (docs/read_only.md says why).

A name is here only when the function, in every overload the database ships, has no side effect
(no write, no sequence advance, no session or configuration change, no transaction id), runs no SQL
text, touches no file, large object, log or configuration, does not sleep, lock or reach the
network, and reveals neither credentials nor other sessions. Names are lowercase and unqualified,
exactly as a user writes them. Anything missing is refused with a clear message; operators add
names with the READ_ONLY_EXTRA_FUNCTIONS setting. tests/sqltools/test_allowlists.py checks every
name against the real catalogs (pg_proc with its volatility and privileges, MariaDB, SQLite's
pragma_function_list) and that the known-dangerous names stay out.
"""

from __future__ import annotations


def _names(*groups: str) -> frozenset[str]:
    return frozenset(name for group in groups for name in group.split())


# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------

# Aggregates, statistical and ordered-set ones included.
_PG_AGGREGATES = """
    avg count min max sum every bool_and bool_or bit_and bit_or bit_xor
    string_agg array_agg json_agg jsonb_agg json_object_agg jsonb_object_agg range_agg
    stddev stddev_pop stddev_samp variance var_pop var_samp
    corr covar_pop covar_samp regr_avgx regr_avgy regr_count regr_intercept regr_r2
    regr_slope regr_sxx regr_sxy regr_syy
    percentile_cont percentile_disc mode
"""
# Window functions.
_PG_WINDOW = """
    row_number rank dense_rank ntile lag lead first_value last_value nth_value cume_dist percent_rank
"""
# Text: case, length, trimming, search, slicing, padding, regular expressions, formatting.
_PG_STRING = """
    lower upper initcap length char_length character_length octet_length bit_length
    trim btrim ltrim rtrim substring substr left right overlay replace translate reverse
    concat concat_ws lpad rpad repeat position strpos starts_with split_part
    regexp_replace regexp_match regexp_matches regexp_split_to_array regexp_split_to_table
    regexp_substr regexp_count regexp_instr regexp_like
    format ascii chr to_hex quote_ident quote_literal quote_nullable normalize unistr
    string_to_array string_to_table array_to_string
"""
# Hashes and byte encodings (pure transformations of their argument).
_PG_ENCODING = """
    md5 sha224 sha256 sha384 sha512 encode decode convert_from convert_to get_byte get_bit
"""
# Numbers.
_PG_NUMERIC = """
    abs ceil ceiling floor round trunc mod div power sqrt cbrt exp ln log log10 sign pi
    sin cos tan cot asin acos atan atan2 sind cosd tand cotd asind acosd atand atan2d
    sinh cosh tanh asinh acosh atanh degrees radians gcd lcm factorial width_bucket
    scale min_scale trim_scale random
"""
# Dates, times, intervals.
_PG_DATETIME = """
    now current_date current_time current_timestamp localtime localtimestamp
    clock_timestamp statement_timestamp transaction_timestamp timeofday
    date_trunc date_part date_bin extract age to_timestamp to_date
    make_date make_time make_timestamp make_timestamptz make_interval
    justify_days justify_hours justify_interval isfinite overlaps
"""
# Conversion.
_PG_CONVERSION = """
    cast to_char to_number
"""
# Conditional expressions.
_PG_CONDITIONAL = """
    coalesce nullif greatest least num_nulls num_nonnulls
"""
# JSON and JSONB: construction, extraction, set-returning expansion, SQL/JSON paths.
_PG_JSON = """
    to_json to_jsonb array_to_json row_to_json
    json_build_array jsonb_build_array json_build_object jsonb_build_object json_object jsonb_object
    json_array_length jsonb_array_length json_typeof jsonb_typeof
    json_each jsonb_each json_each_text jsonb_each_text
    json_extract_path jsonb_extract_path json_extract_path_text jsonb_extract_path_text
    json_object_keys jsonb_object_keys
    json_array_elements jsonb_array_elements json_array_elements_text jsonb_array_elements_text
    json_strip_nulls jsonb_strip_nulls jsonb_pretty jsonb_set jsonb_set_lax jsonb_insert
    json_populate_record jsonb_populate_record json_populate_recordset jsonb_populate_recordset
    json_to_record jsonb_to_record json_to_recordset jsonb_to_recordset
    jsonb_path_exists jsonb_path_match jsonb_path_query jsonb_path_query_array jsonb_path_query_first
"""
# Arrays and set-returning generators over values.
_PG_ARRAY = """
    array_length array_lower array_upper array_dims array_ndims cardinality
    array_append array_prepend array_cat array_position array_positions array_remove
    array_replace array_fill trim_array unnest generate_series generate_subscripts
"""
# Full-text search on values (ts_stat and ts_rewrite run query text: out).
_PG_TEXT_SEARCH = """
    to_tsvector to_tsquery plainto_tsquery phraseto_tsquery websearch_to_tsquery
    ts_rank ts_rank_cd ts_headline
"""
# Identifiers.
_PG_UUID = """
    gen_random_uuid
"""
# Metadata about the session and the objects it may read. Not the login's name (current_user,
# session_user, user): like the host, it stays in the server's own log.
_PG_METADATA = """
    current_database current_schema current_schemas current_catalog
    version pg_typeof format_type to_regclass to_regtype
    col_description obj_description pg_get_viewdef pg_get_indexdef pg_get_constraintdef
    pg_table_is_visible has_table_privilege has_column_privilege has_schema_privilege
    pg_relation_size pg_total_relation_size pg_table_size pg_indexes_size pg_column_size
    pg_size_pretty pg_size_bytes
"""

# ---------------------------------------------------------------------------------------------
# MySQL / MariaDB (sqlglot's "mysql" dialect serves both)
# ---------------------------------------------------------------------------------------------

# Aggregates (percentile_cont/disc and median are MariaDB window aggregates).
_MY_AGGREGATES = """
    avg count min max sum bit_and bit_or bit_xor group_concat
    std stddev stddev_pop stddev_samp variance var_pop var_samp
    json_arrayagg json_objectagg percentile_cont percentile_disc median
"""
# Window functions.
_MY_WINDOW = """
    row_number rank dense_rank ntile lag lead first_value last_value nth_value cume_dist percent_rank
"""
# Text.
_MY_STRING = """
    lower upper lcase ucase length char_length character_length octet_length bit_length
    trim ltrim rtrim substring substr mid left right substring_index replace reverse insert
    concat concat_ws lpad rpad repeat space position locate instr field find_in_set elt
    make_set export_set strcmp soundex ascii ord char chr format sformat quote hex unhex
    bin oct conv to_base64 from_base64 to_char
    regexp_replace regexp_instr regexp_substr regexp_like
"""
# Hashes.
_MY_HASH = """
    md5 sha sha1 sha2 crc32
"""
# Numbers.
_MY_NUMERIC = """
    abs ceil ceiling floor round truncate mod power pow sqrt exp ln log log2 log10 sign pi
    sin cos tan cot asin acos atan atan2 degrees radians rand
"""
# Dates and times.
_MY_DATETIME = """
    now current_date current_time current_timestamp curdate curtime sysdate
    localtime localtimestamp utc_date utc_time utc_timestamp
    date time timestamp date_add date_sub adddate subdate addtime subtime
    datediff timediff timestampdiff timestampadd period_add period_diff
    date_format time_format str_to_date get_format convert_tz extract
    year quarter month monthname week weekday weekofyear yearweek day dayname
    dayofmonth dayofweek dayofyear hour minute second microsecond last_day
    makedate maketime add_months sec_to_time time_to_sec to_days to_seconds from_days
    unix_timestamp from_unixtime
"""
# Conversion.
_MY_CONVERSION = """
    cast convert
"""
# Conditional expressions.
_MY_CONDITIONAL = """
    coalesce if ifnull nullif isnull nvl nvl2 greatest least interval
"""
# JSON (json_table is a table function over a JSON value).
_MY_JSON = """
    json_object json_array json_quote json_unquote json_extract json_value json_query
    json_contains json_contains_path json_keys json_length json_depth json_type json_valid
    json_search json_set json_insert json_replace json_remove json_array_append
    json_array_insert json_merge json_merge_patch json_merge_preserve json_pretty
    json_detailed json_compact json_loose json_exists json_overlaps json_normalize
    json_equals json_table
"""
# Values and identifiers (pure; INET_* convert text and numbers, they reach no network).
_MY_MISC = """
    uuid sys_guid natural_sort_key any_value inet_aton inet_ntoa inet6_aton inet6_ntoa is_ipv4 is_ipv6
"""
# Metadata about the connection itself; not the login and client host (user(), current_user()…).
_MY_METADATA = """
    database schema version connection_id
    found_rows row_count charset collation coercibility
"""

# ---------------------------------------------------------------------------------------------
# SQLite
# ---------------------------------------------------------------------------------------------

# Aggregates (string_agg needs SQLite 3.44).
_LITE_AGGREGATES = """
    avg count min max sum total group_concat string_agg
"""
# Window functions.
_LITE_WINDOW = """
    row_number rank dense_rank ntile lag lead first_value last_value nth_value cume_dist percent_rank
"""
# Text (concat, concat_ws and octet_length need 3.43/3.44, unhex 3.41).
_LITE_STRING = """
    lower upper length octet_length trim ltrim rtrim substr substring replace instr
    char unicode hex unhex quote printf format like glob soundex concat concat_ws
"""
# Numbers (the math functions exist when SQLite is built with them, as Python's is).
_LITE_NUMERIC = """
    abs round sign random ceil ceiling floor trunc mod pow power sqrt exp ln log log2 log10 pi
    sin cos tan asin acos atan atan2 sinh cosh tanh asinh acosh atanh degrees radians
"""
# Dates and times (timediff needs 3.43).
_LITE_DATETIME = """
    date time datetime julianday unixepoch strftime timediff
    current_date current_time current_timestamp
"""
# Conversion.
_LITE_CONVERSION = """
    cast typeof
"""
# Conditional expressions.
_LITE_CONDITIONAL = """
    coalesce ifnull nullif iif
"""
# JSON (json_each and json_tree are table-valued functions over a JSON value).
_LITE_JSON = """
    json json_array json_array_length json_extract json_insert json_object json_patch
    json_remove json_replace json_set json_type json_valid json_quote
    json_group_array json_group_object json_each json_tree
"""
# Blobs and planner hints (pure).
_LITE_MISC = """
    randomblob zeroblob likely unlikely likelihood
"""
# Metadata about the library.
_LITE_METADATA = """
    sqlite_version sqlite_source_id
"""

# ---------------------------------------------------------------------------------------------
# SQL Server (T-SQL)
# ---------------------------------------------------------------------------------------------

# Aggregates, approximate and ordered-set ones included.
_TSQL_AGGREGATES = """
    avg count count_big min max sum stdev stdevp var varp string_agg checksum_agg
    grouping grouping_id approx_count_distinct approx_percentile_cont approx_percentile_disc
"""
# Window and analytic functions.
_TSQL_WINDOW = """
    row_number rank dense_rank ntile lag lead first_value last_value cume_dist percent_rank
    percentile_cont percentile_disc
"""
# Text (string_split is a table-valued function over a string).
_TSQL_STRING = """
    lower upper len datalength ltrim rtrim trim substring left right replace stuff translate
    reverse concat concat_ws replicate space charindex patindex ascii char nchar unicode
    str format quotename string_escape soundex difference string_split
"""
# Hashes and checksums.
_TSQL_HASH = """
    hashbytes checksum binary_checksum
"""
# Numbers (not RAND: RAND(seed) reseeds the connection's generator, a session change).
_TSQL_NUMERIC = """
    abs ceiling floor round sign power square sqrt exp log log10 pi
    sin cos tan cot asin acos atan atn2 degrees radians
"""
# Dates and times.
_TSQL_DATETIME = """
    getdate getutcdate sysdatetime sysutcdatetime sysdatetimeoffset current_timestamp
    dateadd datediff datediff_big datename datepart datetrunc date_bucket day month year
    datefromparts datetime2fromparts datetimefromparts datetimeoffsetfromparts
    smalldatetimefromparts timefromparts eomonth isdate switchoffset todatetimeoffset
"""
# Conversion.
_TSQL_CONVERSION = """
    cast convert try_cast try_convert parse try_parse isnumeric
"""
# Conditional expressions.
_TSQL_CONDITIONAL = """
    coalesce nullif isnull iif choose greatest least
"""
# JSON (openjson is a table-valued function over a JSON string).
_TSQL_JSON = """
    isjson json_value json_query json_modify json_object json_array json_path_exists openjson
"""
# Identifiers.
_TSQL_UUID = """
    newid
"""
# Metadata about the objects the session may read. Not the login's name (suser_sname, original_login…)
# nor serverproperty, whose MachineName and ServerName are the host: both stay in the server's own log.
_TSQL_METADATA = """
    db_name db_id schema_name schema_id object_id object_name object_schema_name
    col_name col_length columnproperty objectproperty objectpropertyex
    type_name type_id typeproperty databasepropertyex
    is_member is_rolemember has_perms_by_name session_context context_info
"""

FUNCTIONS: dict[str, frozenset[str]] = {
    "tsql": _names(
        _TSQL_AGGREGATES, _TSQL_WINDOW, _TSQL_STRING, _TSQL_HASH, _TSQL_NUMERIC, _TSQL_DATETIME,
        _TSQL_CONVERSION, _TSQL_CONDITIONAL, _TSQL_JSON, _TSQL_UUID, _TSQL_METADATA,
    ),
    "postgres": _names(
        _PG_AGGREGATES, _PG_WINDOW, _PG_STRING, _PG_ENCODING, _PG_NUMERIC, _PG_DATETIME,
        _PG_CONVERSION, _PG_CONDITIONAL, _PG_JSON, _PG_ARRAY, _PG_TEXT_SEARCH, _PG_UUID, _PG_METADATA,
    ),
    "mysql": _names(
        _MY_AGGREGATES, _MY_WINDOW, _MY_STRING, _MY_HASH, _MY_NUMERIC, _MY_DATETIME,
        _MY_CONVERSION, _MY_CONDITIONAL, _MY_JSON, _MY_MISC, _MY_METADATA,
    ),
    "sqlite": _names(
        _LITE_AGGREGATES, _LITE_WINDOW, _LITE_STRING, _LITE_NUMERIC, _LITE_DATETIME,
        _LITE_CONVERSION, _LITE_CONDITIONAL, _LITE_JSON, _LITE_MISC, _LITE_METADATA,
    ),
}

# Under a data policy, functions that describe the catalog (whether a table exists, its columns, size or
# definition) could reveal what the policy hides: they are not admitted there. The populate functions
# take a table's row type (json_populate_record(null::t, …)) and so name its columns.
_POPULATE = "json_populate_record jsonb_populate_record json_populate_recordset jsonb_populate_recordset"
CATALOG_PROBES: dict[str, frozenset[str]] = {
    "tsql": _names(_TSQL_METADATA),
    "postgres": _names(_PG_METADATA, _POPULATE),
    "mysql": _names(_MY_METADATA),
    "sqlite": _names(_LITE_METADATA),
}
