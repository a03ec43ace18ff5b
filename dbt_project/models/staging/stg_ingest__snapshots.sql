-- Each snapshot extract's newest file per school year (never later than var('as_of_date')) and
-- when it was loaded: what newest_snapshot reads for each year, and what the models rebuilt by
-- school year hash (a newer snapshot, or the same file sent again, changes loaded_at).
-- raw._snapshots is ingest's index of the snapshot files (rows per school year, extract date, load
-- time): bookkeeping, not an extract, so not a dbt source (sources map onto the ingest assets).
-- It lives beside the raw tables, whose database and schema come from the sources' one
-- declaration (through sis.students, which also shows that extract upstream of this view).
-- school_year is NULL in the index where the extract has no year column: the extract date's.
{%- set raw = source('sis', 'students') %}
select source, extract, school_year, max(extract_date) as extract_date,
       arg_max(loaded_at, extract_date) as loaded_at
from (
    select source, extract, extract_date, loaded_at,
           cast(coalesce(school_year, {{ school_year_of('extract_date') }}) as integer) as school_year
    from {{ api.Relation.create(database=raw.database, schema=raw.schema, identifier='_snapshots') }}
    where extract_date <= {{ as_of_date() }}
) i
group by source, extract, school_year
