select asset_tag, serial_number, device_model, local_id, status, status_date,
       _school_year as school_year, _extract_date as extract_date
from {{ newest_snapshot('devices', 'chromebook_assignments') }} s
