import { z } from "zod";
import { NoInput } from "../common-schemas";
import { auditActorOf, providerMediaProcedure, providerProcedure, router, tenantProcedure } from "../trpc";
import { uploadProfilePhoto } from "./photos";
import { PhotoUploadInput, PhotoUrls, ProfileIdInput, ProfileOutput, SearchProfilesInput, SearchResultOutput, UpsertProfileInput } from "./schemas";
import { searchProfiles } from "./search";
import { findOwnProfileRow, getProfile, toProfileOutput, upsertMyProfile } from "./service";

export const profilesRouter = router({
  /** Creates or replaces the caller's provider profile in this tenant. */
  upsertMine: providerProcedure
    .input(UpsertProfileInput)
    .output(ProfileOutput)
    .mutation(({ ctx, input }) =>
      upsertMyProfile({ db: ctx.db, tenantId: ctx.tenant.id, userId: ctx.auth.user.id, input, actor: auditActorOf(ctx), storage: ctx.storage }),
    ),

  /** The caller's own profile in this tenant (exact coordinates), or null. */
  mine: tenantProcedure
    .input(NoInput)
    .output(ProfileOutput.nullable())
    .query(async ({ ctx }) => {
      const row = await findOwnProfileRow({ db: ctx.db, tenantId: ctx.tenant.id, userId: ctx.auth.user.id });
      return row ? toProfileOutput(row, ctx.storage, { exact: true }) : null;
    }),

  get: tenantProcedure
    .input(ProfileIdInput)
    .output(ProfileOutput)
    .query(({ ctx, input }) =>
      getProfile({ db: ctx.db, tenantId: ctx.tenant.id, id: input.id, viewer: { userId: ctx.auth.user.id, role: ctx.role }, storage: ctx.storage }),
    ),

  /** Published providers of this tenant: by kind and attributes, rate, text and distance, paged. */
  search: tenantProcedure
    .input(SearchProfilesInput)
    .output(SearchResultOutput)
    .query(({ ctx, input }) => searchProfiles({ db: ctx.db, tenantId: ctx.tenant.id, input, storage: ctx.storage, cursorSecret: ctx.config.appSecret.value })),

  /** Multipart form data with the picture in the field `file`; answers with the new picture's URLs. */
  uploadPhoto: providerMediaProcedure
    .input(PhotoUploadInput)
    .output(z.object({ photo: PhotoUrls }))
    .mutation(({ ctx, input }) =>
      uploadProfilePhoto({
        form: input,
        tenantId: ctx.tenant.id,
        userId: ctx.auth.user.id,
        inTenant: ctx.inTenant,
        storage: ctx.storage,
        decodeSlots: ctx.photoDecodeSlots,
        limits: { maxBytes: ctx.config.media.maxBytes, maxPixels: ctx.config.media.maxPixels },
        actor: auditActorOf(ctx),
        log: ctx.log,
      }),
    ),
});
