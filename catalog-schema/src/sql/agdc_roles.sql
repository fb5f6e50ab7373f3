-- Roles of the ODC index (cluster-wide), created only when missing, with datacube's memberships.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agdc_user') THEN
    CREATE ROLE agdc_user NOLOGIN INHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agdc_ingest') THEN
    CREATE ROLE agdc_ingest NOLOGIN INHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles g ON g.oid = m.member
                 WHERE g.rolname = 'agdc_user' AND r.rolname = 'agdc_ingest' AND m.admin_option) THEN
    GRANT agdc_user TO agdc_ingest WITH ADMIN OPTION;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agdc_manage') THEN
    CREATE ROLE agdc_manage NOLOGIN INHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles g ON g.oid = m.member
                 WHERE g.rolname = 'agdc_user' AND r.rolname = 'agdc_manage' AND m.admin_option) THEN
    GRANT agdc_user TO agdc_manage WITH ADMIN OPTION;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles g ON g.oid = m.member
                 WHERE g.rolname = 'agdc_ingest' AND r.rolname = 'agdc_manage' AND m.admin_option) THEN
    GRANT agdc_ingest TO agdc_manage WITH ADMIN OPTION;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agdc_admin') THEN
    CREATE ROLE agdc_admin NOLOGIN INHERIT CREATEROLE;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles g ON g.oid = m.member
                 WHERE g.rolname = 'agdc_manage' AND r.rolname = 'agdc_admin') THEN
    GRANT agdc_manage TO agdc_admin;
  END IF;
END
$$;
