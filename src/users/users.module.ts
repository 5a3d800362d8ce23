import { Module } from '@nestjs/common';
import { AddHumanUserController } from './add-human-user/add-human-user.controller';
import { AddHumanUserHandler } from './add-human-user/add-human-user.handler';
import { UsernameReservations } from './add-human-user/username-reservations';
import { AddOTPEmailController } from './add-otp-email/add-otp-email.controller';
import { AddOTPEmailHandler } from './add-otp-email/add-otp-email.handler';
import { DeleteUserController } from './delete-user/delete-user.controller';
import { DeleteUserHandler } from './delete-user/delete-user.handler';
import { GetUserByIDController } from './get-user-by-id/get-user-by-id.controller';
import { GetUserByIDHandler } from './get-user-by-id/get-user-by-id.handler';
import { ListAuthenticationFactorsController } from './list-authentication-factors/list-authentication-factors.controller';
import { ListAuthenticationFactorsHandler } from './list-authentication-factors/list-authentication-factors.handler';
import { RemoveOTPEmailController } from './remove-otp-email/remove-otp-email.controller';
import { RemoveOTPEmailHandler } from './remove-otp-email/remove-otp-email.handler';
import { SetEmailController } from './set-email/set-email.controller';
import { SetEmailHandler } from './set-email/set-email.handler';

@Module({
  controllers: [
    AddHumanUserController,
    SetEmailController,
    DeleteUserController,
    AddOTPEmailController,
    RemoveOTPEmailController,
    GetUserByIDController,
    ListAuthenticationFactorsController,
  ],
  providers: [
    UsernameReservations,
    AddHumanUserHandler,
    SetEmailHandler,
    DeleteUserHandler,
    AddOTPEmailHandler,
    RemoveOTPEmailHandler,
    GetUserByIDHandler,
    ListAuthenticationFactorsHandler,
  ],
})
export class UsersModule {}
