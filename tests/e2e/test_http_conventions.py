from tests.helpers import register, add_member, PASSWORD, unique_email

async def test_probe(client):
    a = await register(client)
    h = a.headers
    async def show(method, url, **kw):
        r = await client.request(method, url, **kw)
        print(method, url, kw.get("json"), r.status_code, r.text[:400])
        return r
    for w in ["٥٥١١٩٨٧٦٥٤٣٢١", "５５１１９８７６５４３２１", "+55 (11) 98765-4321", "55\t11\n98765-4321", "--5511987654321", "+ 5511987654321", "0011987654321"]:
        await show("POST", "/api/v1/contacts", headers=h, json={"whatsapp_id": w})
    await show("POST", "/api/v1/contacts", headers=h, json={"whatsapp_id": 5511987654000})
    await show("POST", "/api/v1/contacts", headers=h, json={"whatsapp_id": "5511987654001", "tags": ["a", "A ", "b"], "email": ""})
    await show("POST", "/api/v1/contacts", headers=h, json={"whatsapp_id": "5511987654002", "email": "User@Example.COM"})
    await show("POST", "/api/v1/contacts", headers=h, json={"whatsapp_id": "5511987654003", "name": "   "})
    await show("POST", "/api/v1/auth/register", json={"email": "  " + unique_email().upper() + " ", "password": PASSWORD, "name": "n", "organization_name": "o"})
    await show("POST", "/api/v1/auth/register", json={"email": unique_email(), "password": PASSWORD, "name": "  ", "organization_name": "o"})
    await show("POST", "/api/v1/auth/login", json={"email": "' OR 1=1--", "password": "x"})
    await show("POST", "/api/v1/auth/login", json={"email": {"$ne": ""}, "password": "x"})
    await show("POST", "/api/v1/auth/refresh", json={"refresh_token": a.access_token})
    await show("PUT", "/api/v1/contacts/00000000-0000-0000-0000-000000000000", headers=h, json={})
