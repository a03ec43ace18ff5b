-- Each snapshot extract's newest file per school year (never later than var('as_of_date')) and
-- when it was loaded: what newest_snapshot reads for each year, and what the models rebuilt by
-- school year hash. They hash both: the same file sent again changes loaded_at, and files loaded
-- in one batch share it, so after a build as of an earlier date only extract_date tells that the
-- current build reads a newer file.
-- school_year is NULL in the index where the extract has no year column: the extract date's.
select source, extract, school_year, max(extract_date) as extract_date,
       arg_max(loaded_at, extract_date) as loaded_at
from (
    select source, extract, extract_date, loaded_at,
           cast(coalesce(school_year, {{ school_year_of('extract_date') }}) as integer) as school_year
    from {{ source('ingest', 'snapshots') }}
    where extract_date <= {{ as_of_date() }}
) i
group by source, extract, school_year
