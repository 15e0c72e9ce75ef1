// The OpenAPI 3 description of /api/v1, compiled in and served at /api/v1/openapi.json.
// Docs/openapi.json is the same text (a test compares them byte for byte).

enum OpenAPIDocument {
    static let json = """
    {}
    """
}
