import { type Context, type JsonTable, jsonTable, MicroError, type Store } from "ts-micro";

export interface Note {
  id: string;
  text: string;
  updated: string;
}

export interface SaveRequest {
  id: string;
  text: string;
}

export interface IdRequest {
  id: string;
}

export interface ListResponse {
  ids: string[];
}

/** Endpoints Helloworld.Save, Get, List and Delete over notes kept in a store (table "notes"). */
export class Helloworld {
  private readonly notes: JsonTable<Note>;

  constructor(store: Store) {
    this.notes = jsonTable<Note>(store, { database: "helloworld", table: "notes" });
  }

  async Save(req: SaveRequest, _ctx: Context): Promise<Note> {
    if (!req.id) throw MicroError.badRequest("helloworld", "id is required");
    const note = { id: req.id, text: req.text ?? "", updated: new Date().toISOString() };
    await this.notes.put(req.id, note);
    return note;
  }

  async Get(req: IdRequest, _ctx: Context): Promise<Note> {
    const note = await this.notes.get(req.id);
    if (!note) throw MicroError.notFound("helloworld", `note ${req.id} not found`);
    return note;
  }

  async List(_req: Record<string, never>, _ctx: Context): Promise<ListResponse> {
    return { ids: await this.notes.keys() };
  }

  async Delete(req: IdRequest, _ctx: Context): Promise<Record<string, never>> {
    await this.notes.delete(req.id);
    return {};
  }
}
