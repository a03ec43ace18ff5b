-- Each snapshot extract's newest file per school year (never later than var('as_of_date')): what
-- newest_snapshot reads for each year, and, as snapshot_version, what the models rebuilt by school
-- year hash to see which years changed. The version is the file's date and its load time: the
-- same file sent again changes the load time, and files loaded in one batch share one, so after a
-- build as of an earlier date only the date tells that a newer file is now the newest.
-- school_year is NULL in the index where the extract has no year column: the extract date's.
select source, extract, school_year, max(extract_date) as extract_date,
       cast(max(extract_date) as varchar) || ' loaded ' || cast(arg_max(loaded_at, extract_date) as varchar)
           as snapshot_version
from (
    select source, extract, extract_date, loaded_at,
           cast(coalesce(school_year, {{ school_year_of('extract_date') }}) as integer) as school_year
    from {{ source('ingest', 'snapshots') }}
    where extract_date <= {{ as_of_date() }}
) i
group by source, extract, school_year
