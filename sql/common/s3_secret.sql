-- The session's S3 secret of the lake profile, from the standard AWS variables (resources.s3_secret_params);
-- the values are bound, never formatted into the text, and never logged.
CREATE OR REPLACE SECRET lake_s3 (  -- noqa: PRS
    TYPE s3,
    KEY_ID $key_id,
    SECRET $secret,
    SESSION_TOKEN $session_token,
    REGION $region,
    ENDPOINT $endpoint,
    USE_SSL $use_ssl,
    URL_STYLE $url_style
)
