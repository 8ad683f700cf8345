import json
from tests.helpers import register, add_member, PASSWORD, unique_email

async def test_probe(client):
    a = await register(client)
    h = a.headers
    async def show(method, url, **kw):
        r = await client.request(method, url, **kw)
        print(method, url, r.status_code, dict(r.headers), r.text[:600])
        return r
    await show("POST", "/api/v1/contacts", headers=h, json={"whatsapp_id": "abc"})
    await show("POST", "/api/v1/contacts", headers=h, json={"whatsapp_id": "5511987654321", "email": "bad"})
    await show("POST", "/api/v1/contacts", headers=h, json={"whatsapp_id": "5511987654321", "name": "x\x00y"})
    await show("POST", "/api/v1/auth/register", json={"email": unique_email(), "password": "password", "name": "n", "organization_name": "o"})
    await show("POST", "/api/v1/auth/register", json={"email": unique_email(), "password": PASSWORD, "name": "a\x00b", "organization_name": "o"})
    await show("POST", "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "whatever1"})
    await show("GET", "/api/v1/nope")
    await show("DELETE", "/api/v1/auth/me", headers=h)
    await show("POST", "/api/v1/contacts", headers={**h, "content-type": "application/json"}, content=b"{bad")
    await show("GET", "/ready")
    await show("OPTIONS", "/api/v1/contacts", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"})
    await show("GET", "/api/v1/contacts", headers={**h, "Origin": "http://localhost:3000"})
    r = await show("GET", "/api/v1/docs")
    await show("POST", "/api/v1/users", headers=h, json={"email": unique_email(), "name": "x", "role": "super_admin", "password": PASSWORD})
    await show("PATCH", f"/api/v1/users/{a.user['id']}", headers=h, json={"role": "viewer"})
    await show("POST", "/api/v1/auth/me", headers={**h, "X-Organization-ID": a.organization_id})
    await show("GET", "/api/v1/auth/me", headers={**h, "X-Organization-ID": "00000000-0000-0000-0000-000000000001"})
    await show("GET", "/api/v1/contacts", headers=h, params={"query": "x\x00"})
    await show("GET", "/api/v1/contacts/not-a-uuid", headers=h)
