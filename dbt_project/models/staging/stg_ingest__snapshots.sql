-- Each snapshot extract's newest file per school year (never later than var('as_of_date')) and
-- when it was loaded: what newest_snapshot reads for that year. A newer snapshot, or the same
-- file sent again, changes loaded_at; the models rebuilt by school year hash it (inputs_hash).
select source, extract, school_year, max(extract_date) as extract_date,
       arg_max(loaded_at, extract_date) as loaded_at
from (
    select source, extract, extract_date, loaded_at,
           cast(coalesce(school_year, {{ school_year_of('extract_date') }}) as integer) as school_year
    from {{ snapshot_index() }}
    where extract_date <= {{ as_of_date() }}
) i
group by source, extract, school_year
