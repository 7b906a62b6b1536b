"""The Management API (``/api``), Logto's paths and error shape; request and response models
are declared so that the OpenAPI document is generated."""
